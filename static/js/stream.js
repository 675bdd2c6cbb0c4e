// The live connection: one EventSource on /events that survives server
// restarts. EventSource reconnects by itself after a network error, but gives
// up for good on a bad response (e.g. a 503 while the server drains), so we
// also reopen it ourselves with a capped backoff, and a watchdog reopens a
// stream that went silent (the server sends "stats" every second).

const WATCHDOG_MS = 5000;

export function openStream({ url = '/events', onState, onOpen, handlers }) {
  let es = null;
  let retryMs = 500;
  let retryTimer = null;
  let watchdog = null;
  let stopped = false;

  const kick = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      onState('reconnecting', 'no data for 5 s');
      reopen(0);
    }, WATCHDOG_MS);
  };

  const reopen = (delay) => {
    if (es) es.close();
    es = null;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  };

  function connect() {
    if (stopped) return;
    onState('connecting');
    es = new EventSource(url);
    es.addEventListener('open', () => {
      retryMs = 500;
      onState('live');
      kick();
      onOpen();
    });
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (ev) => {
        kick();
        let data;
        try { data = JSON.parse(ev.data); } catch { return; }
        fn(data, ev);
      });
    }
    es.addEventListener('error', () => {
      clearTimeout(watchdog);
      if (es && es.readyState === EventSource.CLOSED) {
        const delay = retryMs;
        retryMs = Math.min(retryMs * 2, 8000);
        onState('down', `retrying in ${(delay / 1000).toFixed(1)} s`);
        reopen(delay);
      } else {
        onState('reconnecting');
      }
    });
  }

  connect();
  return {
    close() { stopped = true; clearTimeout(watchdog); clearTimeout(retryTimer); if (es) es.close(); },
    get readyState() { return es ? es.readyState : EventSource.CLOSED; },
  };
}
