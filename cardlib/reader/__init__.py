"""The reader side: talks to a chip (real or virtual) through PC/SC and reads it under secure messaging."""
