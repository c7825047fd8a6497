"""Cryptographic protocols of ICAO 9303-11, each usable from the terminal and from the chip side:
key derivation, BAC, PACE, secure messaging, Active and Chip Authentication."""
