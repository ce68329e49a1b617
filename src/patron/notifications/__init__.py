"""Notifications: the console's list of what ended (imports, exports) and the mail about it.

::

    notifications/
      tables.py      notifications (one per user and event), mail_outbox (mail to send)
      repository.py  their SQL
      service.py     notify(): an entry for the user and, when mail is on, a mail in the outbox
      outbox.py      drain(): send what is due, retry with backoff, never fail the caller
      mailer.py      the SMTP client (PATRON_SMTP_*)
      events.py      what an import's end says (subject, counts, link)
      worker.py      the background loop: the outbox, export jobs, expired exports

Mail is written to the outbox in the same transaction as the event it announces, and
sent later by the worker: a mail server that is down delays the mail, never the work.
"""
