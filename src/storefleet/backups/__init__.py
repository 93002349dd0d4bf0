"""Store backups: a consistent database dump and the store's own files, with
a manifest, encrypted with the platform's backup key, kept in a directory or
S3-compatible object storage. Restore and clone read them back."""
