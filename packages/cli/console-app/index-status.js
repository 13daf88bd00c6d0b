// The index status line: while the console builds or checks its stores' query indexes (a large
// store's first start), polls /api/status and shows how far it got; reloads the page once the
// indexes are ready, so the answers shown come from the whole store.
const POLL_MS = 1000;

export function startIndexStatus(root) {
  if (root.dataset.ready === 'true') return;
  const poll = async () => {
    try {
      const answer = await fetch('/api/status', { credentials: 'same-origin' });
      const body = await answer.json();
      if (!answer.ok) throw new Error(body.error || answer.statusText);
      root.textContent = body.index.message;
      if (body.index.ready) {
        location.reload();
        return;
      }
    } catch (error) {
      root.textContent = `could not read the console's status: ${error.message}`;
    }
    setTimeout(poll, POLL_MS);
  };
  void poll();
}
