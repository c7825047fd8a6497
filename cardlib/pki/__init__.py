"""Country signing PKI: the ICAO 9303-12 certificate profile, file and token keys, and the verifier's trust store."""
