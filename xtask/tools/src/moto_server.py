"""moto server with DynamoDB requests serialized.

moto's threaded server runs each request on its own thread without locking its DynamoDB
backend, so concurrent conditional writes and transactions can lose updates (seen here: 11
units sold from a stock of 10). Real DynamoDB serializes writes per item. This launcher runs
moto's own application and server, with one lock around DynamoDB requests only, so SQS long
polling and the other services stay concurrent.

Two more fixes of moto 5.2.5's DynamoDB, found by the soak (`cargo xtask soak`), both of which
made a long run slower and larger without bound (20 GB and thousands of queued API requests
after 15 minutes at 2 orders a second):

- TransactWriteItems backed up every table it touched with a deep copy (its items and its whole
  stream) before each transaction, and put the copy back when one condition failed. Each
  transaction cost time in proportion to the table, and every replaced table stayed alive
  through the shard iterators that pointed at its stream. Here conditions are checked first,
  against the items as they are (DynamoDB checks every condition before it writes anything),
  a cancelled transaction writes nothing, and only the items an applied transaction touches
  are backed up.
- Every GetShardIterator and GetRecords kept its iterator forever. A shard iterator expires 15
  minutes after it is returned (DynamoDB Streams API Reference, GetShardIterator); here only
  the newest MAX_SHARD_ITERATORS are kept, which a reader that uses each iterator at once, as
  `cargo xtask dev` does, never notices.

And one speed-up, found by `cargo xtask bench --dev`: moto 5.2.5 writes every JSON answer
through its generic serializer, which walks botocore's shape model member by member. For a
DynamoDB item that is each attribute's AttributeValue union of ten members, looked up under
every alias: three quarters of a GetItem of an order (3.5 ms of 4.6 ms), which made moto the
bound of the local API. An AttributeValue that moto holds is already in its wire form
(`{"S": "..."}`, `{"M": {...}}`); one made only of strings, numbers, booleans, nulls, string
and number sets, maps and lists of those is written as it is, byte for byte what the generic
path writes (binary values, which it base64-encodes, still take that path).

And it serves moto's application with waitress, not with moto's own development server
(werkzeug's), which closes every connection after one answer, starts a thread for each, and
logs each request: with the cached host lookup below, moto's CPU per GetItem under load went
from 2.5 ms to 1.8 ms (`cargo xtask bench --dev`). waitress keeps connections alive and runs
requests on a pool of THREADS threads; a queue poller's long poll holds one for up to its wait,
so the pool is larger than the pollers and clients of `cargo xtask dev` together.

Usage: python3 moto_server.py HOST PORT
"""

import copy
import functools
import sys
import threading

from waitress import serve

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodbstreams.models import DynamoDBStreamsBackend

MAX_SHARD_ITERATORS = 10_000
THREADS = 64


def transact_write_items(self, transact_items):
    """moto's TransactWriteItems: the same checks, answers and errors, without the table copies."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    target_items = set()
    errors = []
    plan = []
    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in target_items:
                raise MultipleTransactionsException()
            target_items.add(unique)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            plan.append((op_type, op, table_name, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto reports any other failure per item too
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    # Every condition holds: apply, backing up only the items written and the streams' length.
    backup = []
    streams = {}
    for _, _, table_name, key in plan:
        current = self.get_item(table_name, key)
        backup.append((table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        shard = self.get_table(table_name).stream_shard
        if shard is not None:
            streams.setdefault(table_name, (shard, len(shard.items)))

    def restore():
        for table_name, key, attrs in reversed(backup):
            if attrs is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attrs)
        for shard, length in streams.values():
            del shard.items[length:]

    for index, (op_type, op, table_name, key) in enumerate(plan):
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        condition = op.get("ConditionExpression")
        try:
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
        except (MultipleTransactionsException, MockValidationException):
            restore()
            raise
        except Exception as e:  # noqa: BLE001 - as moto: the transaction is cancelled with the reason
            restore()
            failed = [(None, None, None)] * len(transact_items)
            failed[index] = (type(e).__name__, str(e), None)
            raise TransactionCanceledException(failed) from e


def keeping_newest_iterators(method):
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        iterators = self.shard_iterators
        while len(iterators) > MAX_SHARD_ITERATORS:
            iterators.pop(next(iter(iterators)))
        return result

    return wrapper


def plain_attribute_value(value) -> bool:
    """Whether `value` is an AttributeValue in wire form the generic serializer would copy."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return type(inner) is str
    if kind in ("BOOL", "NULL"):
        return type(inner) is bool
    if kind in ("SS", "NS"):
        return type(inner) is list and all(type(x) is str for x in inner)
    if kind == "M":
        return type(inner) is dict and all(
            type(k) is str and plain_attribute_value(v) for k, v in inner.items()
        )
    if kind == "L":
        return type(inner) is list and all(plain_attribute_value(v) for v in inner)
    return False


generic_structure = BaseJSONSerializer._serialize_type_structure


def serialize_structure(self, serialized, value, shape, key):
    if key and shape.name == "AttributeValue" and plain_attribute_value(value):
        self._default_serialize(serialized, value, shape, key)
        return
    generic_structure(self, serialized, value, shape, key)


BaseJSONSerializer._serialize_type_structure = serialize_structure
DynamoDBBackend.transact_write_items = transact_write_items
DynamoDBStreamsBackend.get_shard_iterator = keeping_newest_iterators(DynamoDBStreamsBackend.get_shard_iterator)
DynamoDBStreamsBackend.get_records = keeping_newest_iterators(DynamoDBStreamsBackend.get_records)


# The backend of a host, looked up once per host (moto lists its package folder on disk and
# tries its URL patterns one by one at every request). Hosts are service and region names, a
# handful; the one application lives as long as the server.
DomainDispatcherApplication.get_backend_for_host = functools.cache(
    DomainDispatcherApplication.get_backend_for_host
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)

    serve(
        serialized,
        host=host,
        port=port,
        threads=THREADS,
        connection_limit=1000,
        asyncore_use_poll=True,
        ident="moto",
    )


if __name__ == "__main__":
    main()
