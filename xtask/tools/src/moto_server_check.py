"""Checks the project's moto launcher (moto_server.py) against moto itself, in process.

- Its AttributeValue fast path writes every answer byte for byte as moto's generic serializer
  does: items of every attribute type (binary ones included, which keep the generic path),
  through GetItem, Query, Scan, UpdateItem, BatchGetItem and the stream's GetRecords.
- Its TransactWriteItems: a transaction whose condition fails is cancelled with one reason per
  item and writes nothing; one whose conditions hold writes every item.

Usage: python3 moto_server_check.py PATH/TO/moto_server.py (exit status 1 on a difference).
"""

import importlib.util
import json
import sys

from moto.core.serialize import BaseJSONSerializer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import Client

GENERIC = BaseJSONSerializer._serialize_type_structure
spec = importlib.util.spec_from_file_location("launcher", sys.argv[1])
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)
FAST = BaseJSONSerializer._serialize_type_structure
assert FAST is not GENERIC, "the launcher did not install its serializer"

client = Client(DomainDispatcherApplication(create_backend_app))
HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
    "Host": "127.0.0.1:5000",
}
failures = []


def call(target, body):
    r = client.post("/", data=json.dumps(body), headers={**HEADERS, "X-Amz-Target": target})
    return r.status_code, r.get_data()


def dynamodb(op, body):
    return call("DynamoDB_20120810." + op, body)


def streams(op, body):
    status, data = call("DynamoDBStreams_20120810." + op, body)
    return json.loads(data)


def check(what, ok):
    if not ok:
        failures.append(what)


dynamodb("CreateTable", {
    "TableName": "t",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
})
ITEMS = [
    {"id": {"S": "plain"}, "n": {"N": "12.50"}, "yes": {"BOOL": True}, "no": {"BOOL": False},
     "none": {"NULL": True}, "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]}, "empty": {"S": ""},
     "m": {"M": {"s": {"S": "é ☃"}, "l": {"L": [{"N": "1"}, {"M": {}}, {"L": []}]}}}},
    {"id": {"S": "binary"}, "b": {"B": "aGVsbG8="}, "bs": {"BS": ["aGVsbG8=", "d29ybGQ="]},
     "m": {"M": {"b": {"B": "AAEC"}}}},
    {"id": {"S": "mixed"}, "l": {"L": [{"S": "x"}, {"B": "AAEC"}]}},
]
for item in ITEMS:
    check(f"PutItem {item['id']}", dynamodb("PutItem", {"TableName": "t", "Item": item})[0] == 200)
READS = [("GetItem", {"TableName": "t", "Key": {"id": {"S": i["id"]["S"]}}}) for i in ITEMS] + [
    ("Scan", {"TableName": "t"}),
    ("Query", {"TableName": "t", "KeyConditionExpression": "id = :v",
               "ExpressionAttributeValues": {":v": {"S": "plain"}}}),
    ("UpdateItem", {"TableName": "t", "Key": {"id": {"S": "plain"}}, "UpdateExpression": "SET n = n + :z",
                    "ExpressionAttributeValues": {":z": {"N": "0"}}, "ReturnValues": "ALL_NEW"}),
    ("BatchGetItem", {"RequestItems": {"t": {"Keys": [{"id": {"S": "plain"}}, {"id": {"S": "binary"}}]}}}),
]
arn = json.loads(dynamodb("DescribeTable", {"TableName": "t"})[1])["Table"]["LatestStreamArn"]
shard = streams("DescribeStream", {"StreamArn": arn})["StreamDescription"]["Shards"][0]["ShardId"]


def answers():
    out = [dynamodb(op, body) for op, body in READS]
    it = streams("GetShardIterator", {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})
    records = streams("GetRecords", {"ShardIterator": it["ShardIterator"]})["Records"]
    out.append(json.dumps([r["dynamodb"] for r in records[: len(ITEMS)]]))
    return out


fast = answers()
BaseJSONSerializer._serialize_type_structure = GENERIC
generic = answers()
BaseJSONSerializer._serialize_type_structure = FAST
for (op, _), a, b in zip(READS + [("GetRecords", None)], fast, generic):
    check(f"{op}: the fast path answered {a!r}, moto's serializer {b!r}", a == b)

# TransactWriteItems: all or nothing.
cancelled = dynamodb("TransactWriteItems", {"TransactItems": [
    {"Put": {"TableName": "t", "Item": {"id": {"S": "new"}}}},
    {"Update": {"TableName": "t", "Key": {"id": {"S": "plain"}}, "UpdateExpression": "SET n = :v",
                "ConditionExpression": "n = :old",
                "ExpressionAttributeValues": {":v": {"N": "1"}, ":old": {"N": "999"}}}},
]})
reasons = json.loads(cancelled[1]).get("CancellationReasons", [])
check(f"a failed condition cancels the transaction: {cancelled}", cancelled[0] == 400
      and [r.get("Code") for r in reasons] == ["None", "ConditionalCheckFailed"])
check("a cancelled transaction writes nothing",
      json.loads(dynamodb("GetItem", {"TableName": "t", "Key": {"id": {"S": "new"}}})[1]) == {})
applied = dynamodb("TransactWriteItems", {"TransactItems": [
    {"Put": {"TableName": "t", "Item": {"id": {"S": "new"}}}},
    {"Update": {"TableName": "t", "Key": {"id": {"S": "plain"}}, "UpdateExpression": "SET n = :v",
                "ConditionExpression": "n = :old",
                "ExpressionAttributeValues": {":v": {"N": "1"}, ":old": {"N": "12.5"}}}},
]})
check(f"a transaction whose conditions hold applies: {applied}", applied[0] == 200)
item = json.loads(dynamodb("GetItem", {"TableName": "t", "Key": {"id": {"S": "plain"}}})[1])["Item"]
check(f"its update is written: {item['n']}", item["n"] == {"N": "1"})

for f in failures:
    print("FAILED:", f)
print(f"moto launcher: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
