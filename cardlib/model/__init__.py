"""The domain model: a resident as the Vietnamese state records them, and the TD1 MRZ."""
