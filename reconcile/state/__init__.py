"""Where reconcile remembers what it manages: resources, remote ids, serial, lineage and the lock."""
