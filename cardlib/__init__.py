"""cardlib: encode, sign, write, read and verify the chip of Vietnam's citizen identity card (CCCD)."""
