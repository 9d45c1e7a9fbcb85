"""Graph passes that backends share (they read the typed graph; none rewrites it).

    fold.foldable_batchnorms(net)   batchnorms folded into the conv/dense before them
"""
