"""The clinicians' and owners' pages: server-rendered Jinja, no JavaScript needed.

One module and one template folder per area (sign-in, clinician, owner). A page handler is
as thin as a JSON route: it reads the form, calls the same `shared/` function the JSON route
calls, and renders. What makes a handler a page is its opt (`PAGE`, or `PUBLIC_PAGE` for the
signed-out ones): its errors render as HTML (services/api/errors.py), and a signed-out
visitor is sent to the sign-in page and back afterwards instead of getting a 401.

Forms post as application/x-www-form-urlencoded with `{{ csrf_input | safe }}` inside: the
CSRF middleware (services/api/auth.py) checks that field against the CSRF cookie.
"""
