"""The extension the console's tests browse: one cache model, nothing else."""

from imperal_sdk import Extension
from pydantic import BaseModel

ext = Extension(
    "console-probe",
    display_name="Console probe",
    description="Extension whose partitions the console's own tests browse.",
)


class Note(BaseModel):
    text: str


ext.cache_model("note")(Note)
