"""The gateway: imperal-sdk's HTTP wire protocol (/v1/internal/*) over the surface cores."""
