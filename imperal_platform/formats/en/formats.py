"""English formats, with seconds: operators compare audit rows and runs by the second.

ISO-like and 24-hour, so a time reads the same on every page (settings use UTC).
"""

DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
TIME_FORMAT = "H:i:s"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
