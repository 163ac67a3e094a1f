"""Infrastructure every Pursuit service uses: db, outbox, queue, auth, errors, health.

`kit` imports no service and no domain; services import it.
"""
