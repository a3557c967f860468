// The person's page: both steps, live status over Server-Sent Events with polling as the fallback.
// No inline script anywhere (Content-Security-Policy: default-src 'self').
'use strict';

(() => {
  const isPhone = /Android|iPhone|iPad|iPod/i.test(navigator.userAgent) ||
    window.matchMedia('(pointer: coarse) and (max-width: 820px)').matches;
  document.documentElement.classList.add(isPhone ? 'is-phone' : 'is-desktop');
  const sandbox = document.body.dataset.sandbox === 'true';
  const returnTo = document.body.dataset.returnTo || '';

  const reasons = {
    issuer_not_accepted: 'The credential was not issued by IDEMIA for this service.',
    type_mismatch: 'The shared credential is not a Verified Identity.',
    credential_revoked: 'The credential has been revoked.',
    credential_expired: 'The credential has expired.',
    face_check_failed: 'The face check did not match the portrait in your credential.',
    no_credential: 'No credential was shared.',
    presentation_error: 'Microsoft Authenticator reported an error, or you declined to share.',
  };

  const steps = {
    ipa: {
      create: '/api/ipa/sessions',
      path: (r) => '/api/ipa/sessions/' + encodeURIComponent(r.sessionId),
      open: (r) => r.startUrl,
      phone: (r) => r.startUrl,
      good: 'completed',
      final: (s) => s !== 'pending',
      messages: {
        pending: isPhone ? 'Tap the button to start the identity check.' : 'Scan the QR code with your phone to start the identity check.',
        completed: 'Done: your verified identity is now in Microsoft Authenticator. You can share it in the next step.',
        error: 'The identity check did not succeed, or it was stopped.',
        timeout: 'The identity check was not finished in time.',
        expired: 'This identity check session has expired.',
      },
    },
    entra: {
      create: '/api/verifier/presentation-requests',
      path: (r) => '/api/verifier/presentation-requests/' + encodeURIComponent(r.requestId),
      open: (r) => r.url,
      phone: (r) => {
        const uri = new URLSearchParams(r.url.split('?')[1] || '').get('request_uri');
        return uri ? '/sandbox/phone?request_uri=' + encodeURIComponent(uri) : '';
      },
      good: 'verified',
      returns: true, // a journey started with ?return_to= goes back there with the result
      final: (s) => s === 'verified' || s === 'failed' || s === 'expired',
      messages: {
        created: isPhone ? 'Tap the button to open Microsoft Authenticator.' : 'Scan the QR code with Microsoft Authenticator.',
        retrieved: 'QR code scanned — confirm in Authenticator.',
        verified: 'Verified. This is what you shared:',
        failed: 'The verification failed.',
        expired: 'This request has expired.',
      },
    },
  };

  document.querySelectorAll('section[data-step]').forEach((section) => {
    const step = steps[section.dataset.step];
    const ui = {
      start: section.querySelector('[data-action="start"]'),
      restart: section.querySelector('[data-action="restart"]'),
      live: section.querySelector('.live'),
      qr: section.querySelector('.qr'),
      img: section.querySelector('.qr img'),
      open: section.querySelector('[data-role="open"]'),
      phone: section.querySelector('[data-role="phone"]'),
      status: section.querySelector('.status'),
      countdown: section.querySelector('.countdown'),
      claims: section.querySelector('.claims'),
    };
    let follow = null;
    ui.start.addEventListener('click', () => start());
    ui.restart.addEventListener('click', () => start());

    async function start() {
      if (follow) follow.stop();
      ui.start.disabled = ui.restart.disabled = true;
      section.dataset.status = 'starting';
      try {
        const body = step.returns && returnTo ? JSON.stringify({ returnTo }) : '{}';
        const res = await fetch(step.create, {
          method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body,
        });
        const answer = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error((answer.error && answer.error.message) || 'The service did not answer as expected.');
        show(answer);
      } catch (err) {
        ui.live.hidden = false;
        ui.qr.hidden = ui.open.hidden = ui.phone.hidden = true;
        setStatus(err.message || 'Something went wrong. Please try again.', 'error');
        ui.restart.hidden = false;
        ui.start.hidden = true;
      } finally {
        ui.start.disabled = ui.restart.disabled = false;
      }
    }

    function show(created) {
      ui.start.hidden = true;
      ui.restart.hidden = true;
      ui.live.hidden = false;
      if (ui.claims) ui.claims.hidden = true;
      ui.qr.hidden = false;
      ui.img.removeAttribute('data-loaded');
      ui.img.onload = () => ui.img.setAttribute('data-loaded', 'true');
      ui.img.src = created.qrCodeUrl;
      ui.open.hidden = false;
      ui.open.href = step.open(created);
      const phone = sandbox ? step.phone(created) : '';
      ui.phone.hidden = !phone;
      if (phone) ui.phone.href = phone;
      follow = watch(step.path(created), new Date(created.expiresAt));
      ui.resultPath = step.path(created) + '/return';
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
        render(view);
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
      ui.countdown.textContent = left > 0 ? 'Expires in ' + m + ':' + s : 'Expired';
    }

    function render(view) {
      section.dataset.status = view.status;
      let text = step.messages[view.status] || view.status;
      if (view.status === 'failed' && view.reason) text += ' ' + (reasons[view.reason] || 'Reason: ' + view.reason + '.');
      const final = step.final(view.status);
      const scanned = view.status !== 'pending' && view.status !== 'created';
      ui.qr.hidden = ui.open.hidden = scanned;
      if (scanned) ui.phone.hidden = true;
      ui.countdown.hidden = final;
      setStatus(text, final && view.status !== step.good ? 'error' : final ? 'good' : '');
      if (view.status === 'verified') renderClaims(view.claims || {});
      ui.restart.hidden = !final || view.status === step.good;
      if (final) ui.status.focus();
      if (step.returns && returnTo && (view.status === 'verified' || view.status === 'failed')) {
        ui.restart.hidden = true;
        setStatus(text + ' Taking you back…', view.status === step.good ? 'good' : 'error');
        setTimeout(() => window.location.assign(ui.resultPath), 1500);
      }
    }

    function setStatus(text, tone) {
      ui.status.textContent = text;
      ui.status.className = 'status' + (tone ? ' ' + tone : '');
    }

    function renderClaims(claims) {
      const dl = ui.claims.querySelector('dl');
      const portrait = ui.claims.querySelector('.portrait');
      dl.replaceChildren();
      portrait.hidden = true;
      const first = ['firstName', 'givenName', 'lastName', 'familyName', 'dateOfBirth'];
      const rank = (n) => (first.indexOf(n) + first.length + 1) % (first.length + 1);
      const names = Object.keys(claims).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      for (const name of names) {
        const value = claims[name];
        if (typeof value === 'string' && looksLikeJPEG(value)) {
          portrait.src = 'data:image/jpeg;base64,' + value.replace(/-/g, '+').replace(/_/g, '/');
          portrait.hidden = false;
          continue;
        }
        const dt = document.createElement('dt');
        dt.textContent = label(name);
        const dd = document.createElement('dd');
        dd.textContent = typeof value === 'string' ? value : JSON.stringify(value);
        dl.append(dt, dd);
      }
      ui.claims.hidden = false;
    }
  });

  // A JPEG starts with FF D8 FF: "/9j/" in base64, "_9j_" in base64url.
  function looksLikeJPEG(v) { return v.startsWith('_9j_') || v.startsWith('/9j/'); }

  function label(name) {
    const words = name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }
})();
