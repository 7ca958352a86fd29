"""Drives weft server with python-consul (Debian's python3-consul), an existing Consul client, unchanged.

Usage: python3 python_consul_client.py flow HOST PORT HEALTH_URL   (against an open server)
       python3 python_consul_client.py acl HOST PORT TOKEN         (against a server that requires TOKEN)
Prints one JSON object of what the client saw; the C# test asserts on it.

This client (0.7.1) sends its token on catalog, health and kv calls but not on most agent calls, and uses
GET for check/pass, so its agent calls need an open server, as they would against Consul 1.x with ACLs.
"""
import json
import sys
import threading

import consul

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = {}

if mode == "acl":
    token = sys.argv[4]
    seen["right_token"] = sorted(consul.Consul(host=host, port=port, token=token).catalog.services()[1].keys())
    try:
        consul.Consul(host=host, port=port, token="not-the-token").catalog.services()
        seen["wrong_token"] = "accepted"
    except consul.ACLPermissionDenied as e:
        seen["wrong_token"] = "ACLPermissionDenied: " + str(e)
    print(json.dumps(seen))
    sys.exit(0)

health_url = sys.argv[4]
c = consul.Consul(host=host, port=port)

# Register two instances with HTTP checks the server runs, and a TTL check on one. (This client's
# ttl_pass uses GET without the token, which Consul 1.x refuses too, so the TTL stays as registered.)
c.agent.service.register("inventory", service_id="inventory-1", address="127.0.0.1", port=7001,
                         tags=["v1"], check=consul.Check.http(health_url, "1s", timeout="1s"))
c.agent.service.register("inventory", service_id="inventory-2", address="127.0.0.1", port=7002,
                         tags=["v1"], check=consul.Check.http(health_url, "1s", timeout="1s"))
c.agent.check.register("inventory-ttl", check=consul.Check.ttl("30s"), service_id="inventory-1")

seen["agent_services"] = sorted(c.agent.services().keys())
index, catalog = c.catalog.services()
seen["catalog_services"] = catalog
seen["catalog_index"] = int(index)

# Wait, with blocking queries, until both instances' HTTP checks pass (the TTL check is critical, so
# look at the instances without ?passing and at the HTTP check itself).
def http_passing(entries):
    return sorted(e["Service"]["ID"] for e in entries
                  if any(ch["CheckID"].startswith("service:") and ch["Status"] == "passing" for ch in e["Checks"]))

index, entries = c.health.service("inventory")
rounds = 0
while len(http_passing(entries)) < 2 and rounds < 30:
    index, entries = c.health.service("inventory", index=index, wait="10s")
    rounds += 1
seen["http_passing"] = http_passing(entries)
seen["passing_filter"] = sorted(e["Service"]["ID"] for e in c.health.service("inventory", passing=True)[1])
seen["http_output"] = next(ch["Output"] for e in entries for ch in e["Checks"] if ch["CheckID"] == "service:inventory-1")
seen["ttl_status"] = next(ch["Status"] for ch in c.health.checks("inventory")[1] if ch["CheckID"] == "inventory-ttl")

# A blocking query woken by a registration made while it waits.
index, _ = c.health.service("inventory")
threading.Timer(0.3, lambda: c.agent.service.register("inventory", service_id="inventory-3", port=7003)).start()
new_index, entries = c.health.service("inventory", index=index, wait="30s")
seen["woken_index_advanced"] = int(new_index) > int(index)
seen["after_wake"] = sorted(e["Service"]["ID"] for e in entries)

# This client's agent deregister uses GET, which Consul 1.x answers with 405 (and so does weft); it reports
# False. Its catalog deregister uses PUT and works.
seen["agent_deregister_via_get"] = c.agent.service.deregister("inventory-3")
seen["catalog_deregister"] = c.catalog.deregister("compat-node", service_id="inventory-3")
seen["after_deregister"] = sorted(e["Service"]["ID"] for e in c.health.service("inventory")[1])

print(json.dumps(seen))
