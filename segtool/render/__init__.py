"""Overlay renders: segment fills, outlines, labels, legends and error views, all whole-array.

``palette`` picks stable colors, ``overlay`` blends them over a photo, ``text`` draws labels
(only where they fit inside their segment) and legends (below the picture, never over it),
``errors`` colors matched, false-positive and false-negative segments, ``sheet`` puts
thumbnails on contact sheets with their image ids, ``gallery`` writes the static HTML page.
"""
