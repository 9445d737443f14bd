"""Dashboard support code.

Pure modules (no Streamlit): :mod:`.theory` (numeric checks of the seeds' derivations),
:mod:`.live` (the training worker thread the Train page polls), :mod:`.runs` (run
comparison tables). :mod:`.widgets` holds the Streamlit helpers shared by the pages; it is
the only module here importing Streamlit. Importing this package imports nothing heavy.
"""
