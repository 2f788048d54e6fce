"""On PostgreSQL, the database itself rejects UPDATE and DELETE of ledger entries and audit
events, whatever the client."""

from django.db import migrations

TABLES = ["points_ledgerentry", "points_auditevent"]

FUNCTION = """
CREATE OR REPLACE FUNCTION points_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION points_append_only()"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS points_append_only()")


class Migration(migrations.Migration):
    dependencies = [("points", "0002_ledger")]

    operations = [migrations.RunPython(create, drop)]
