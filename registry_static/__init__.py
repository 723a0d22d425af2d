"""The distribute side: the signed static registry (publish, site, client, resolver, lockfile, cache).

Built by the registry issue; empty until then.
"""
