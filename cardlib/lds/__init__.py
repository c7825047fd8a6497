"""Codecs for the ICAO 9303 Logical Data Structure: one module per file (EF.COM, DG1, DG2, DG13,
DG14, DG15, EF.SOD, EF.CardAccess) over a shared BER-TLV layer."""
