"""The label store, labels.sqlite, one idea a module (import each name from its module):

- ``store``: :class:`LabelStore`, the store as a whole, and what it promises (append-only events, undo, current labels);
- ``values``: seed 002's vocabulary and interest scale, tags, times and annotators, checked (:class:`LabelError`);
- ``schema``: the events table's SQL and columns, :class:`LabelEvent`, an event row written and read back;
- ``storefile``: the SQLite file opened, made only when missing, checked, one connection or write at a time;
- ``writing``: ``add``, ``add_many`` and ``undo``;
- ``reading``: every event, and the current labels derived from them;
- ``csv_files``: events out to CSV and back in (:class:`ImportReport`);
- ``integrity``: whether a file is sound, and the message refusing a damaged one (:class:`LabelStoreError`, ``store_problem``);
- ``backups``: rolling backups in RUN/backups (:class:`BackupPolicy`, ``backup_store``, ``list_backups``);
- ``restore``: ``restore_store``, a backup brought back and the replaced file moved aside.
"""
