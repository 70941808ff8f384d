// Stands in for the npm package whatwg-url in the bundle. Its only user, node-fetch 2 (under
// @kubernetes/client-node), takes `URL` from node:url and falls back to whatwg-url only where Node has
// none; every Node tagpin runs on has both globals. The package itself would load tr46, its Unicode
// mapping table (about 5 MiB of heap at start) and the deprecated punycode module (a warning on stderr).
'use strict';
/* global module */
module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };
