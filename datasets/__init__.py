"""Dataset definitions and generators (synthetic test images); nothing here is imported at run time."""
