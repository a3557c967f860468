// The person's page: both steps, resumed from GET /api/journey on load, then live over Server-Sent Events
// with polling as the fallback. Every text comes from the page's catalogue (<script id="messages">), in the
// page's language. No inline script anywhere (Content-Security-Policy: default-src 'self').
'use strict';

(() => {
  const M = JSON.parse(document.getElementById('messages').textContent);
  const t = (key, vars) => {
    let s = Object.prototype.hasOwnProperty.call(M, key) ? M[key] : M['error.generic'];
    for (const [k, v] of Object.entries(vars || {})) s = s.replace('{' + k + '}', v);
    return s;
  };
  const has = (key) => Object.prototype.hasOwnProperty.call(M, key);

  const isPhone = /Android|iPhone|iPad|iPod/i.test(navigator.userAgent) ||
    window.matchMedia('(pointer: coarse) and (max-width: 820px)').matches;
  document.documentElement.classList.add(isPhone ? 'is-phone' : 'is-desktop');
  const body = document.body;
  const sandbox = body.dataset.sandbox === 'true';
  const returnTo = body.dataset.returnTo || '';
  const consent = {
    needed: body.dataset.consent === 'true',
    box: document.getElementById('consent'),
    block: document.querySelector('[data-role="consent"]'),
    accepted: document.querySelector('[data-role="consent-accepted"]'),
    error: document.getElementById('consent-error'),
  };

  // What the person should do after a failed presentation, by reason.
  const nextAfter = {
    issuer_not_accepted: 'next.share_step1',
    type_mismatch: 'next.share_step1',
    credential_revoked: 'next.redo_step1',
    credential_expired: 'next.redo_step1',
    face_check_failed: 'next.face_check',
    no_credential: 'next.get_credential',
    presentation_error: 'next.declined',
  };

  const steps = {
    ipa: {
      create: '/api/ipa/sessions',
      journey: 'ipaSession',
      path: (r) => '/api/ipa/sessions/' + encodeURIComponent(r.sessionId),
      open: (r) => r.startUrl,
      phone: (r) => r.startUrl,
      good: 'completed',
      waiting: ['pending'],
      final: (s) => s !== 'pending',
      message: (v) => v.status === 'pending' ? (isPhone ? 'ipa.pending.phone' : 'ipa.pending.desktop') : 'ipa.' + v.status,
      next: (v) => v.status === 'pending' ? '' : v.status === 'completed' ? (sections.entra ? 'ipa.completed.next' : '') : 'ipa.retry.next',
    },
    entra: {
      create: '/api/verifier/presentation-requests',
      journey: 'presentationRequest',
      path: (r) => '/api/verifier/presentation-requests/' + encodeURIComponent(r.requestId),
      open: (r) => r.url,
      phone: (r) => {
        const uri = new URLSearchParams(r.url.split('?')[1] || '').get('request_uri');
        return uri ? '/sandbox/phone?request_uri=' + encodeURIComponent(uri) : '';
      },
      good: 'verified',
      waiting: ['created'],
      returns: true, // a journey started with ?return_to= goes back there with the result
      final: (s) => s === 'verified' || s === 'failed' || s === 'expired',
      message: (v) => v.status === 'created' ? (isPhone ? 'entra.created.phone' : 'entra.created.desktop') : 'entra.' + v.status,
      next: (v) => v.status === 'failed' ? (nextAfter[v.reason] || '') : v.status === 'expired' ? 'entra.expired.next' : '',
    },
  };

  const sections = {};
  document.querySelectorAll('section[data-step]').forEach((el) => { sections[el.dataset.step] = controller(el, steps[el.dataset.step]); });
  let ipaView = null; // the IPA session as last seen: gates step 2 and gives the level of assurance

  function controller(section, step) {
    const q = (sel) => section.querySelector(sel);
    const ui = {
      start: q('[data-action="start"]'), restart: q('[data-action="restart"]'), live: q('.live'), qr: q('.qr'),
      img: q('.qr img'), open: q('[data-role="open"]'), phone: q('[data-role="phone"]'), status: q('.status'),
      next: q('.next'), countdown: q('.countdown'), claims: q('.claims'), getapp: q('.getapp'), done: q('.done-label'),
      blocked: q('.blocked'),
    };
    const c = { section, step, ui, follow: null, view: null, show, render, setBlocked };
    ui.start.addEventListener('click', () => start());
    ui.restart.addEventListener('click', () => start());

    async function start() {
      let payload = {};
      if (step === steps.ipa && consent.needed && !consentGiven()) {
        consent.error.hidden = false;
        consent.box.setAttribute('aria-invalid', 'true');
        consent.box.focus();
        return;
      }
      if (step === steps.ipa && consent.needed) payload = { consent: true };
      if (step.returns && returnTo) payload = { returnTo };
      if (c.follow) c.follow.stop();
      ui.start.disabled = ui.restart.disabled = true;
      section.dataset.status = 'starting';
      try {
        let res;
        try {
          res = await fetch(step.create, {
            method: 'POST', credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(payload),
          });
        } catch (_) {
          throw new Error(t('error.network'));
        }
        const answer = await res.json().catch(() => ({}));
        if (!res.ok) {
          const code = answer.error && answer.error.code;
          throw new Error(has('error.' + code) ? t('error.' + code) : t('error.generic'));
        }
        if (step === steps.ipa && consent.needed) markConsent();
        show(answer);
      } catch (err) {
        section.dataset.status = 'error';
        ui.live.hidden = false;
        ui.qr.hidden = ui.open.hidden = ui.phone.hidden = true;
        ui.countdown.hidden = true;
        setText(ui.next, '');
        setStatus(err.message, 'error');
        ui.restart.hidden = false;
        ui.start.hidden = true;
      } finally {
        ui.start.disabled = ui.restart.disabled = false;
      }
    }

    // show displays a created (or resumed, not final) session or request and follows it.
    function show(created) {
      ui.start.hidden = true;
      ui.restart.hidden = true;
      ui.live.hidden = false;
      if (ui.claims) ui.claims.hidden = true;
      ui.qr.hidden = false;
      ui.countdown.hidden = false;
      ui.img.removeAttribute('data-loaded');
      ui.img.onload = () => ui.img.setAttribute('data-loaded', 'true');
      ui.img.src = created.qrCodeUrl;
      ui.open.hidden = false;
      ui.open.href = step.open(created);
      const phone = sandbox ? step.phone(created) : '';
      ui.phone.hidden = !phone;
      if (phone) ui.phone.href = phone;
      ui.resultPath = step.path(created) + '/return';
      render(Object.assign({ status: step.waiting[0] }, created), false);
      c.follow = watch(step.path(created), new Date(created.expiresAt));
    }

    // watch follows one session or request until a final status.
    function watch(path, expiresAt) {
      let source = null;
      let poll = null;
      let stopped = false;
      const tick = setInterval(() => countdown(expiresAt), 1000);
      countdown(expiresAt);
      const stop = () => {
        stopped = true;
        if (source) source.close();
        clearTimeout(poll);
        clearInterval(tick);
      };
      const update = (view) => {
        if (stopped) return;
        render(view, true);
        if (step.final(view.status)) stop();
      };
      const pollOnce = async () => {
        try {
          const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
          if (res.ok) update(await res.json());
        } catch (_) { /* network hiccup: try again */ }
        if (!stopped) poll = setTimeout(pollOnce, 2000);
      };
      if (window.EventSource) {
        source = new EventSource(path + '/events');
        source.addEventListener('status', (e) => update(JSON.parse(e.data)));
        source.onerror = () => { // the stream failed or ended early: fall back to polling
          source.close();
          if (!stopped) pollOnce();
        };
      } else {
        pollOnce();
      }
      return { stop };
    }

    function countdown(expiresAt) {
      const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      const m = Math.floor(left / 60);
      const s = String(left % 60).padStart(2, '0');
      ui.countdown.textContent = left > 0 ? t('countdown.left', { time: m + ':' + s }) : t('countdown.expired');
    }

    // render shows a status read; live says it is a change the person should hear about (not a resume).
    function render(view, live) {
      c.view = view;
      section.dataset.status = view.status;
      ui.live.hidden = false;
      ui.start.hidden = true;
      const final = step.final(view.status);
      const good = view.status === step.good;
      let text = t(step.message(view));
      if (view.status === 'failed') text += ' ' + t(has('reason.' + view.reason) ? 'reason.' + view.reason : 'reason.unknown');
      const waiting = step.waiting.includes(view.status);
      ui.qr.hidden = ui.open.hidden = !waiting;
      if (!waiting) ui.phone.hidden = true;
      ui.countdown.hidden = final;
      setStatus(text, final && !good ? 'error' : final ? 'good' : '');
      const next = step.next(view);
      setText(ui.next, next ? t(next) : '');
      if (ui.getapp) ui.getapp.hidden = !(waiting || view.reason === 'no_credential');
      if (ui.claims) ui.claims.hidden = view.status !== 'verified';
      if (view.status === 'verified') renderClaims(view);
      ui.restart.hidden = !final || good;
      section.toggleAttribute('data-done', final && good);
      ui.done.hidden = !(final && good);
      if (final && live) ui.status.focus();
      if (step === steps.ipa) {
        ipaView = view;
        if (sections.entra) sections.entra.setBlocked();
      }
      if (step.returns && returnTo && live && (view.status === 'verified' || view.status === 'failed')) {
        ui.restart.hidden = true;
        setStatus(text + ' ' + t('return.going'), good ? 'good' : 'error');
        setTimeout(() => window.location.assign(ui.resultPath), 1500);
      }
    }

    // setBlocked withholds step 2 while the IPA session failed (and step 2 has not started).
    function setBlocked() {
      if (!ui.blocked) return;
      const failed = ipaView && ['error', 'timeout', 'expired'].includes(ipaView.status);
      const idle = !c.view;
      ui.blocked.hidden = !(failed && idle);
      if (idle) ui.start.hidden = Boolean(failed);
      section.toggleAttribute('data-blocked', Boolean(failed && idle));
    }

    function setStatus(text, tone) {
      ui.status.textContent = text;
      ui.status.className = 'status' + (tone ? ' ' + tone : '');
    }

    function renderClaims(view) {
      const claims = view.claims || {};
      const dl = ui.claims.querySelector('dl');
      const portrait = ui.claims.querySelector('.portrait');
      dl.replaceChildren();
      portrait.hidden = true;
      const first = ['firstName', 'givenName', 'lastName', 'familyName', 'dateOfBirth'];
      const rank = (n) => (first.indexOf(n) + first.length + 1) % (first.length + 1);
      const names = Object.keys(claims).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      const row = (label, value, cls) => {
        const dt = document.createElement('dt');
        dt.textContent = label;
        const dd = document.createElement('dd');
        dd.textContent = value;
        if (cls) dd.className = cls;
        dl.append(dt, dd);
      };
      for (const name of names) {
        const value = claims[name];
        if (typeof value === 'string' && looksLikeJPEG(value)) {
          portrait.src = 'data:image/jpeg;base64,' + value.replace(/-/g, '+').replace(/_/g, '/');
          portrait.hidden = false;
          continue;
        }
        row(has('claims.' + name) ? t('claims.' + name) : label(name), typeof value === 'string' ? value : JSON.stringify(value));
      }
      if (view.issuer) row(t('claims.issuer'), view.issuer, 'issuer');
      const loa = ipaView && ipaView.identity && ipaView.identity.levelOfAssurance;
      if (loa) row(t('claims.loa'), loa, 'loa');
    }
    return c;
  }

  function setText(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }

  function consentGiven() { return consent.given || (consent.box && consent.box.checked); }

  function markConsent() {
    consent.given = true;
    if (consent.block) consent.block.hidden = true;
    if (consent.accepted) consent.accepted.hidden = false;
  }

  if (consent.box) {
    consent.box.addEventListener('change', () => {
      if (consent.box.checked) {
        consent.error.hidden = true;
        consent.box.removeAttribute('aria-invalid');
      }
    });
  }

  // A JPEG starts with FF D8 FF: "/9j/" in base64, "_9j_" in base64url.
  function looksLikeJPEG(v) { return v.startsWith('_9j_') || v.startsWith('/9j/'); }

  function label(name) {
    const words = name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // Resume: restore every step from this browser's newest session and request.
  (async () => {
    let j = null;
    try {
      const res = await fetch('/api/journey', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.ok) j = await res.json();
    } catch (_) { /* offline: start afresh */ }
    if (j && j.consent && j.consent.acceptedAt) markConsent();
    for (const name of ['ipa', 'entra']) {
      const c = sections[name];
      if (!c) continue; // a journey without this step: the page does not show it
      const r = j && j[c.step.journey];
      if (!r) continue;
      if (!c.step.final(r.status) && r.qrCodeUrl) {
        c.show(r);
      } else {
        c.render(r, false);
      }
    }
    if (sections.entra) sections.entra.setBlocked();
    body.dataset.ready = 'true';
  })();
})();
