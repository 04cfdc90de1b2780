"""ctx.secrets: imperal-sdk's ``@ext.secret`` contract, values sealed at rest (AES-256-GCM)."""
