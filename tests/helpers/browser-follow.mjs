#!/usr/bin/env node
// A stand-in for a person's browser in tests: used as $BROWSER, it opens the URL it is given and
// follows the redirects, as a browser would after the person approves (test authorization
// servers approve at once), so the runtime's loopback redirect receives the code.
const url = process.argv[2];
if (!url) {
  console.error('usage: browser-follow.mjs URL');
  process.exit(2);
}
try {
  const response = await fetch(url, { redirect: 'follow' });
  await response.text();
  process.exit(response.ok ? 0 : 1);
} catch (err) {
  console.error(`browser-follow: ${err.message}`);
  process.exit(1);
}
