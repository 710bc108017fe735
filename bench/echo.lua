-- wrk script: POST /echo with a small JSON body.
wrk.method = "POST"
wrk.body = '{"hello":"world","n":[1,2,3],"ok":true}'
wrk.headers["Content-Type"] = "application/json"
