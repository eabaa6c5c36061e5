/// The dashboard page: a login form and an empty grid that `app.js` fills.
/// Kept as a raw string literal so the binary serves it with nothing on disk.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Slipway dashboard</title>
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body data-state="loading">
<header class="top">
  <h1>Slipway</h1>
  <span id="live" class="live off">connecting…</span>
  <span id="who"></span>
  <button id="logout" type="button" hidden>Log out</button>
</header>
<div id="error" class="error" role="alert" hidden></div>
<div id="notice" class="notice" hidden></div>
<section id="login" class="login" hidden>
  <form id="login-form">
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" placeholder="slw_…">
    <button type="submit">Log in</button>
  </form>
  <p class="hint">Use an API token (<code>slipway token create NAME --role viewer</code>). The browser keeps it in an HttpOnly cookie; the page never sees it again.</p>
</section>
<main id="app" hidden>
  <div id="grid" class="grid"></div>
  <p id="empty" class="hint" hidden>No services yet: start the server with <code>--config slipway.yml</code> or run <code>slipway apply</code>.</p>
</main>
<section id="why-panel" class="why" hidden>
  <header><h2 id="why-title">Decisions</h2><button id="why-close" type="button">Close</button></header>
  <p id="why-summary"></p>
  <ol id="why-list"></ol>
</section>
<noscript>The dashboard needs JavaScript.</noscript>
</body>
</html>
"""#
}
