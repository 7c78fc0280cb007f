"""Static files of the search page (a package only so the wheel ships them)."""
