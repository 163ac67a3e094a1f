"""CSV bulk import of leads: an upload, a background job, progress and a row error report."""
