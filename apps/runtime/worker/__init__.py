"""An isolated extension's worker: no Django, no platform credential (see __main__)."""
