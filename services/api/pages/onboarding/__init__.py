"""Getting a practice going, and the owner's housekeeping: sign-up and the first-run checklist,
clinicians, API keys, adding clients and appointments by hand, and the owner's actions on one
client (export, erase, resume invitations). One module per page."""
