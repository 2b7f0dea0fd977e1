"""Browser bed: headless Chromium (chromedriver's W3C HTTP API) <-> ``dtlsproxy run`` <-> Janus.

Everything runs inside private network and PID namespaces (``unshare -n -p -f
--mount-proc``): :mod:`tests.browser.harness` (pytest side) starts one bed driver
(:mod:`tests.browser.bed`) per scenario; the driver serves the page
(:mod:`tests.browser.page`), starts the proxy (:mod:`tests.browser.proxyproc`), Janus
(:mod:`tests.janus.janus`) and Chromium (:mod:`tests.browser.chrome`), does the
signalling with :mod:`proxy.sdp`, and writes a JSON result next to the proxy's log.
"""
