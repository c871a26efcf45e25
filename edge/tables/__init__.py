"""The check log's other tables, one module per group, over the store's one connection.

``edge.store.CheckStore`` owns the file, its migrations and the checks themselves; these
modules own every other table it creates and all SQL touching them, so the guard book,
the kiosk's desk and set-up never write SQL of their own.
"""
