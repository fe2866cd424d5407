-- wrk script: POST the JSON-RPC body in $BODY to / with keep-alive.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
