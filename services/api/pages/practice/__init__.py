"""The owner's pages beyond the figures (services/api/pages/owner.py): settings with preview
and history, failed emails, and the audit log."""
