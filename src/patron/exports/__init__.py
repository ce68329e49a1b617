"""Exports of the profile list: CSV or XLSX files, at once or written by the job worker.

::

    exports/
      tables.py      exports (the request, state, lease) and export_chunks (the file)
      service.py     start_export(), export_to(), the rules (who, which fields), the jobs' views
      fields.py      the columns an export can hold and each customer's cells
      writer.py      CSV and XLSX written a page at a time, formula cells neutralized
      jobs.py        the worker's part: claim, write, store, notify; delete after 7 days
      links.py       signed, expiring download links
      repository.py  the SQL
      endpoints.py   /v2/exports
"""
