"""The console: server-rendered pages (Jinja2) with htmx, served by ``patron serve`` at ``/``.

Layout::

    web/
      app.py          mount(app, settings): routes, static files, error pages
      routes/<area>.py   one APIRouter per area (signin, account, users, keys, apidocs,
                         profiles, profile, new_profile, settings, audit; upload and
                         upload_check: Upload file's steps; imports: the upload reports)
      templates/base.html            the layout: navigation, signed-in user, sign-out
      templates/<area>/<page>.html   a page; it extends base.html
      templates/<area>/_<name>.html  a fragment htmx swaps in (a page includes it)
      static/         patron's own CSS and icon (htmx and Swagger UI come from packages)
      deps.py         current_session / signed_in / require(role), CSRF check
      sessions.py     server-side sessions; throttle.py failed sign-ins; nav.py the menu
      errors.py       PatronError -> page, status and message (the console's one mapping)
      actions.py      act(): one form's change in one transaction, outcome or error shown
      forms.py        days in the org's time zone, clean query strings, errors by field
      preferences.py  what each user chose to see (the profile list's displayed fields)

Adding a page (say ``/audit`` for viewers):

1. ``routes/audit.py``: ``router = APIRouter(include_in_schema=False)`` and a handler
   ``def audit_page(request: Request, actor: Actor = Depends(viewer)) -> Response``
   (``viewer``, ``editor``, ``admin`` from ``patron.web.deps``; ``signed_in`` for any role).
   The dependency sends a browser without a session to the sign-in page, answers the 403
   page to a role that may not, and refuses a POST without the session's CSRF token. Read
   and change data through the domain's services inside ``patron.kit.db.transaction``,
   never through the HTTP API; for a form's change use ``actions.act``.
2. ``templates/audit/audit.html``: ``{% extends "base.html" %}``, blocks ``title`` and
   ``main``. Every ``<form method="post">`` includes ``{% include "_csrf.html" %}``; htmx
   requests also carry the token in the ``X-CSRF-Token`` header (``hx-headers`` on
   ``<body>``). Give every control a visible ``<label>``. Show times with
   ``{{ value|localtime }}`` (the org's time zone). No inline ``<script>`` or ``style``:
   the pages' Content-Security-Policy refuses them; add CSS to ``static/patron.css``.
3. For a partial update, put the part in ``templates/audit/_list.html``, include it in
   the page, and answer with ``templating.render_page(request, page, fragment, context)``:
   the fragment when htmx asks (``HX-Request``), the whole page otherwise, so the page
   also works without JavaScript.
4. Add the router to ``app.mount`` and, if it belongs in the menu, a ``NavItem`` with its
   least role to ``nav.NAVIGATION`` (``/profiles``, ``/imports``, ``/audit`` and
   ``/settings`` are there already).
5. Test it in ``tests/web/`` over HTTP (both databases) and in ``tests/web/browser/``
   with Chromium (``sign_in(page, console, user)``).

Errors raised as ``PatronError`` in a handler become the error page (``errors.py``);
a page that wants the message beside its form catches them (``actions.act`` does).
"""
