"""Country signing PKI: test CSCA / Document Signer / CRL generation and the verifier's trust store."""
