"""The quality loop's tests use the database fixtures of ``tests/conftest.py`` (``db_url``, ``engine``,
``pg_url``, ``sqlite_url``) and its fake upstream (``fake``, ``upstream``)."""
