"""The store's SQL, one module per database; ``base`` holds the contract."""
