"""A local abuse-reports API, shaped like Cloudflare's, for tests, benchmarks and the demo.

``FakeAbuseAPI`` answers on an ephemeral port of 127.0.0.1 under ``/client/v4`` (its
``base_url`` is what a provider's API base URL is set to). Its contract:

- Accounts are ``{account_id: token}``; every API request carries ``Authorization: Bearer TOKEN``
  and a token opens only its own account: anything else answers 403 with Cloudflare's code 10000
  ("Authentication error").
- ``POST /accounts/{account}/abuse-reports/{report_type}`` submits a report; the body is checked
  as ``reports.py`` says (``act``, ``email``/``email2``, ``name``, ``urls``: at most 250, unique,
  all on one hostname; ``justification`` required for ``abuse_children``; the notification
  choices). A valid one is stored and answered 200 with ``{"success": true, "errors": [],
  "messages": [], "result": "success", "abuse_rand": ID, "request": {"act": TYPE}}``; an invalid
  one 400 with ``success: false`` and every error as ``{code, message}``.
- ``GET /accounts/{account}/abuse-reports/submitted/{id}`` reads one report back (``result``:
  ``id``, ``cdate``, ``domain``, ``status`` one of submitted / accepted / denied,
  ``denial_reason``, ``type``); ``GET .../abuse-reports/submitted?domain=...&created_after=...``
  lists the account's reports (``result.reports``). An unknown id answers 404, code 7003.
- A report reads ``submitted`` until `FakeAbuseAPI.set_status` changes it, or, with
  ``accept_after``, ``accepted`` once that many seconds have passed.
- Faults on demand (`FakeAbuseAPI.set_fault`, per path prefix, optionally for the next N
  requests): a status (400, 401, 403, 404, 429 with ``Retry-After``, 500, 502, 503; nothing
  stored), ``slow`` (stored, answered late: a client that timed out has a report it does not
  know of), ``hang`` (nothing stored, no answer), ``drop`` (connection closed, nothing stored).
- Another process drives it through ``/_devnet/``: ``POST /_devnet/faults`` (JSON with ``kind``,
  ``path_prefix``, ``times``, ``retry_after``, ``seconds``), ``DELETE /_devnet/faults``,
  ``GET /_devnet/stats``, ``GET /_devnet/reports``, ``POST /_devnet/reports/{id}`` (``status``,
  ``denial_reason``), ``DELETE /_devnet/reports`` (forget every report).
- Every API request is logged in ``requests`` (method, path, status) so tests count retries.

Run ``python -m devnet.abuseapi --account demo-account:demo-token`` to serve it; the base URL is
printed on the first line of output.
"""

from __future__ import annotations

from devnet.abuseapi.reports import MAX_URLS, StoredReport
from devnet.abuseapi.server import API_PREFIX, FAULTS, FakeAbuseAPI, Logged

__all__ = ["API_PREFIX", "FAULTS", "MAX_URLS", "FakeAbuseAPI", "Logged", "StoredReport"]
