"""The playground (`cnnc play`): a local web page to type a network and watch its shapes,
errors, graph, receptive fields and feature maps.

    analysis.py     what the page shows of a program: the shape table (the rows of `cnnc
                    shapes --json`), each layer's shape arithmetic, the graph with its blocks
    featuremaps.py  an image from the page, checked, and each layer's feature maps (numpy
                    backend), within bounds
    training.py     the Train button: the digits example in a background thread
    session.py      one playground's state: the file it opened, where weights come from,
                    Save (the program only, atomic, never over a file it did not open)
    server.py       the HTTP server: 127.0.0.1 only, Host/Origin checks, a per-session token,
                    size-limited JSON requests, the page's assets
    static/         the page (index.html, app.js, style.css) and the editor bundle
    frontend/       how editor.bundle.js is built from npm (CodeMirror 6, esbuild)

Everything here is the standard library and cnnc's own numpy code; the Train button also
needs torch and scikit-learn. The page decodes images and draws the graph and feature maps
itself: no matplotlib, no Graphviz, nothing fetched from the network.
"""
