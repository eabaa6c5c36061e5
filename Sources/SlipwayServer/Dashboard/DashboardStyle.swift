/// The dashboard's style sheet.
/// Kept as a raw string literal so the binary serves it with nothing on disk.
enum DashboardStyle {
    static let css = #"""
:root { --fg: #1d232b; --muted: #66707c; --line: #d8dde3; --bg: #f5f6f8; --card: #fff; --ok: #2b8a3e; --bad: #c92a2a; --warn: #e8590c; --accent: #1c6dd0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
code { font: 12px ui-monospace, Menlo, Consolas, monospace; background: #eef0f3; padding: 1px 4px; border-radius: 3px; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .45; cursor: default; }
button.confirm { background: var(--bad); color: #fff; border-color: var(--bad); }
.top { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #1d232b; color: #fff; }
.top h1 { font-size: 18px; margin: 0 12px 0 0; }
.top #who { margin-left: auto; color: #cfd6de; }
.live { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: var(--ok); }
.live.off { background: var(--warn); }
.error { margin: 12px 20px; padding: 8px 12px; border: 1px solid var(--bad); background: #fff0f0; color: var(--bad); border-radius: 4px; white-space: pre-wrap; }
.notice { margin: 12px 20px; padding: 6px 12px; border: 1px solid var(--warn); background: #fff7ec; border-radius: 4px; }
.login { max-width: 480px; margin: 60px auto; background: var(--card); padding: 24px; border: 1px solid var(--line); border-radius: 6px; }
.login form { display: flex; gap: 8px; align-items: center; }
.login input { flex: 1; padding: 6px 8px; font: 13px ui-monospace, monospace; border: 1px solid var(--line); border-radius: 4px; }
.hint { color: var(--muted); font-size: 13px; }
main { padding: 16px 20px; }
.grid { display: grid; gap: 16px; align-items: start; }
.grid .service-name { font-weight: 600; font-size: 16px; align-self: center; }
.grid .env-head { font-weight: 600; color: var(--muted); text-transform: uppercase; font-size: 12px; }
.unit { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; }
.unit.none { color: var(--muted); border-style: dashed; }
.unit > header { display: flex; align-items: center; gap: 8px; }
.unit h2 { font-size: 15px; margin: 0; }
.phase { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #e9ecef; }
.phase.s-stable, .phase.s-succeeded { background: #d3f9d8; color: #1b5e20; }
.phase.s-progressing, .phase.s-waiting_healthy, .phase.s-draining, .phase.s-watching, .phase.s-previewing { background: #d0ebff; color: #0b4f8a; }
.phase.s-paused, .phase.s-awaiting_approval { background: #fff3bf; color: #7a5b00; }
.phase.s-rolled_back, .phase.s-failed { background: #ffe3e3; color: var(--bad); }
.step, .latest { margin: 6px 0; color: var(--muted); font-size: 13px; }
.bar { display: flex; height: 22px; border-radius: 4px; overflow: hidden; background: #e9ecef; margin: 8px 0; }
.seg { color: #fff; font-size: 12px; line-height: 22px; padding: 0 6px; white-space: nowrap; overflow: hidden; transition: width .4s; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 500; }
td.num { font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 3px; background: #adb5bd; }
.dot.up { background: var(--ok); }
.dot.down { background: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; margin: 10px 0; }
.charts figure { margin: 0; }
.charts figcaption { font-size: 12px; color: var(--muted); }
.charts canvas { width: 100%; height: 80px; border: 1px solid var(--line); border-radius: 3px; background: #fcfcfd; }
.actions { display: flex; gap: 6px; flex-wrap: wrap; margin: 8px 0; }
.msg { font-size: 13px; margin: 4px 0; min-height: 1em; }
.msg.bad { color: var(--bad); }
.history tr.row { cursor: pointer; }
.history tr.row:hover { background: #f1f3f5; }
details summary { cursor: pointer; color: var(--muted); margin-top: 6px; }
.why { position: fixed; top: 0; right: 0; bottom: 0; width: min(640px, 100%); background: var(--card); border-left: 1px solid var(--line); box-shadow: -4px 0 16px rgba(0,0,0,.1); padding: 14px 18px; overflow-y: auto; }
.why > header { display: flex; justify-content: space-between; align-items: center; }
.why h2 { font-size: 16px; margin: 0; }
.why li { margin: 8px 0; }
.why .checks { margin: 4px 0 0 0; padding-left: 18px; font-size: 12px; color: var(--muted); }
.why .fail { color: var(--bad); }
.why .pass { color: var(--ok); }
"""#
}
