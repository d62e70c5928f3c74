#!/usr/bin/env python3
"""Drive headless Chromium through the DevTools protocol over a pipe
(--remote-debugging-pipe: NUL-separated JSON on fds 3 and 4), so no
websocket module is needed.  Used by test_ui_pages.sh.

usage: cdp.py BASE_URL OUT_DIR [--lab NODE TYPE] [--report ID]
Checks every view of /ui for console errors and failed requests, that the
charts drew points, and with --lab that an injected fault shows in the
active list and on the chart timeline and goes away after revert.
Screenshots go to OUT_DIR.  Exit 0 on success, 1 with FAIL lines."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BASE, OUT = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
LAB = None
REPORT = None
while args:
    if args[0] == '--lab':
        LAB = (args[1], args[2])
        args = args[3:]
    elif args[0] == '--report':
        REPORT = args[1]
        args = args[2:]
    else:
        sys.exit('unknown argument ' + args[0])

browser = shutil.which('chromium') or shutil.which('chromium-browser')
profile = tempfile.mkdtemp(prefix='dbp-ui-chromium-')
r_in, w_in = os.pipe()    # we write commands, chromium reads fd 3
r_out, w_out = os.pipe()  # chromium writes fd 4, we read
flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--user-data-dir=' + profile, '--window-size=1280,900', '--remote-debugging-pipe',
         'about:blank']


def child_fds():
    # copy both ends above 4 first so neither dup2 clobbers the other
    a, b = os.dup(r_in), os.dup(w_out)
    os.dup2(a, 3)
    os.dup2(b, 4)


log = open(os.path.join(OUT, 'chromium.log'), 'wb')
proc = subprocess.Popen([browser] + flags, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                        preexec_fn=child_fds, close_fds=False)
os.close(r_in)
os.close(w_out)
wfd = w_in
rbuf = b''
msg_id = 0
events = []
failures = []
problems = []  # console errors, exceptions, failed requests


def send(method, params=None, session=None):
    global msg_id
    msg_id += 1
    m = {'id': msg_id, 'method': method, 'params': params or {}}
    if session:
        m['sessionId'] = session
    os.write(wfd, json.dumps(m).encode() + b'\0')
    return msg_id


def read_msg(timeout):
    global rbuf
    import select
    end = time.time() + timeout
    while b'\0' not in rbuf:
        left = end - time.time()
        if left <= 0:
            return None
        r, _, _ = select.select([r_out], [], [], left)
        if not r:
            return None
        chunk = os.read(r_out, 1 << 20)
        if not chunk:
            raise SystemExit('FAIL: chromium closed the DevTools pipe')
        rbuf += chunk
    raw, rbuf = rbuf.split(b'\0', 1)
    return json.loads(raw)


def note_event(m):
    meth = m.get('method', '')
    p = m.get('params', {})
    if meth == 'Runtime.exceptionThrown':
        d = p.get('exceptionDetails', {})
        problems.append('exception: %s %s' % (d.get('text'), (d.get('exception') or {}).get('description', '')))
    elif meth == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
        problems.append('console.%s: %s' % (p['type'], ' '.join(str(a.get('value', a.get('description', ''))) for a in p.get('args', []))))
    elif meth == 'Log.entryAdded' and p.get('entry', {}).get('level') == 'error':
        e = p['entry']
        problems.append('log: %s %s' % (e.get('text'), e.get('url', '')))
    elif meth == 'Network.loadingFailed' and not p.get('canceled'):
        problems.append('request failed: %s %s' % (p.get('errorText'), requests.get(p.get('requestId'), '')))
    elif meth == 'Network.requestWillBeSent':
        url = p.get('request', {}).get('url', '')
        requests[p.get('requestId')] = url
        if not (url.startswith(BASE + '/') or url.startswith('data:') or url == 'about:blank'):
            problems.append('request to another host: ' + url)
    elif meth == 'Network.responseReceived':
        st = p.get('response', {}).get('status', 0)
        if st >= 400:
            problems.append('HTTP %d: %s' % (st, p['response'].get('url')))


requests = {}


def call(method, params=None, session=None, timeout=30):
    i = send(method, params, session)
    end = time.time() + timeout
    while True:
        m = read_msg(max(0.1, end - time.time()))
        if m is None:
            raise SystemExit('FAIL: no answer to ' + method)
        if m.get('id') == i:
            if 'error' in m:
                raise SystemExit('FAIL: %s: %s' % (method, m['error']))
            return m.get('result', {})
        note_event(m)


def pump(seconds):
    end = time.time() + seconds
    while time.time() < end:
        m = read_msg(end - time.time())
        if m:
            note_event(m)


def js(session, expr):
    r = call('Runtime.evaluate', {'expression': expr, 'returnByValue': True, 'awaitPromise': True}, session)
    if 'exceptionDetails' in r:
        raise SystemExit('FAIL: evaluating %s: %s' % (expr, r['exceptionDetails'].get('text')))
    return r.get('result', {}).get('value')


def wait_for(session, expr, what, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        if js(session, expr):
            return True
        pump(0.5)
    failures.append('timed out waiting for ' + what)
    return False


def shot(session, name):
    pump(0.8)  # let charts finish a frame
    r = call('Page.captureScreenshot', {'format': 'png'}, session)
    path = os.path.join(OUT, name + '.png')
    with open(path, 'wb') as f:
        f.write(base64.b64decode(r['data']))
    print('screenshot: ' + path)


def curl(*a):
    return subprocess.run(['curl', '-s', '-w', '\n%{http_code}'] + list(a), capture_output=True, text=True,
                          timeout=120).stdout.rsplit('\n', 1)


try:
    # Wait for the browser target, then attach a session to a new page.
    tgt = call('Target.createTarget', {'url': 'about:blank'}, timeout=60)['targetId']
    ses = call('Target.attachToTarget', {'targetId': tgt, 'flatten': True})['sessionId']
    for dom in ('Runtime', 'Log', 'Network', 'Page'):
        call(dom + '.enable', {}, ses)
    call('Emulation.setDeviceMetricsOverride', {'width': 1280, 'height': 900, 'deviceScaleFactor': 1, 'mobile': False}, ses)
    call('Page.navigate', {'url': BASE + '/ui#cluster'}, ses)
    wait_for(ses, "document.body && document.body.dataset.ready === '1'", 'the page to start', 60)

    if LAB:
        wait_for(ses, "Number(document.querySelector('#charts').dataset.points || 0) > 0 && "
                      "document.querySelectorAll('#charts .chart-card').length > 0",
                 'charts with drawn points', 60)
        print('cluster: %s charts, %s points drawn, %s node rows' % (
            js(ses, "document.querySelectorAll('#charts .chart-card').length"),
            js(ses, "document.querySelector('#charts').dataset.points"),
            js(ses, "document.querySelector('#nodes').dataset.rows")))
    shot(ses, 'cluster')

    for view in ('faults', 'diagnosis', 'campaigns'):
        js(ses, "document.querySelector('#tabs button[data-view=%s]').click()" % view)
        wait_for(ses, "document.body.dataset.view === '%s'" % view, 'view ' + view, 10)
        if view == 'faults':
            wait_for(ses, "document.querySelector('#f-type').options.length > 0 || !%s" % ('true' if LAB else 'false'),
                     'fault types', 20)
        if view == 'diagnosis':
            wait_for(ses, "!!document.querySelector('#diag-now').dataset.state || !%s" % ('true' if LAB else 'false'),
                     'the diagnosis answer', 30)
        if view == 'campaigns':
            wait_for(ses, "document.querySelector('#exps').dataset.count !== undefined", 'the campaign list', 20)
            if REPORT:
                js(ses, "document.querySelector('[data-report=%s]').click()" % REPORT)
                wait_for(ses, "Number(document.querySelector('#rep-charts').dataset.bars || 0) > 0",
                         'AC@k bar charts of the report', 20)
                print('campaigns: %s AC@k bars drawn' % js(ses, "document.querySelector('#rep-charts').dataset.bars"))
        pump(1.5)
        shot(ses, view)

    if LAB:
        node, ftype = LAB
        js(ses, "document.querySelector('#tabs button[data-view=faults]').click()")
        body, code = curl('-X', 'POST', '-H', 'Content-Type: application/json', '-d',
                          json.dumps({'type': ftype, 'target_node': node, 'severity': 'low', 'duration': 90}),
                          BASE + '/api/anomaly/inject')
        if not code.startswith('2'):
            failures.append('inject answered %s: %s' % (code, body))
        else:
            rec = json.loads(body)
            rid = rec.get('id') or (rec.get('anomaly') or {}).get('id')
            wait_for(ses, "!!document.querySelector('#active tr[data-type=%s]')" % ftype,
                     'the fault in the active list', 30)
            wait_for(ses, "Number(document.querySelector('#charts').dataset.activeFaultSpans || 0) > 0",
                     'the fault span on the chart timeline', 30)
            shot(ses, 'faults-active')
            js(ses, "document.querySelector('#tabs button[data-view=cluster]').click()")
            pump(3.5)
            shot(ses, 'cluster-fault')
            js(ses, "document.querySelector('#tabs button[data-view=faults]').click()")
            body, code = curl('-X', 'DELETE', '-H', 'Content-Type: application/json', '-d', '{}',
                              BASE + '/api/anomaly/anomalies/' + rid)
            if not code.startswith('2'):
                failures.append('revert answered %s: %s' % (code, body))
            wait_for(ses, "!document.querySelector('#active tr[data-type=%s]')" % ftype,
                     'the fault to leave the active list', 60)
            wait_for(ses, "Number(document.querySelector('#charts').dataset.activeFaultSpans || 0) === 0",
                     'the open fault span to close on the timeline', 30)
            print('fault: %s on %s appeared in the active list and on the timeline, gone after revert' % (ftype, node))
    pump(1)
finally:
    try:
        call('Browser.close', timeout=5)
    except SystemExit:
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(profile, ignore_errors=True)

allowed = os.environ.get('DBP_UI_ALLOW', '')
real = [p for p in problems if not any(a and a in p for a in allowed.split('|'))]
for p in real:
    print('FAIL: ' + p)
for f in failures:
    print('FAIL: ' + f)
sys.exit(1 if real or failures else 0)
