from django.db import migrations

REEXAMINE = "flows/flows.AppealFlow.reexamine"


def to_the_appeal_permission(apps, schema_editor):
    """Open re-examinations waiting in HR's queue asked for ``handle_redemption``; they ask
    for the appeal's own permission now (granted to the same HR officers by points 0008)."""
    schema_editor.execute(
        "UPDATE viewflow_task SET owner_permission = %s"
        " WHERE owner_permission = %s AND flow_task = %s",
        ["points.reexamine_appeal", "points.handle_redemption", REEXAMINE],
    )


def back(apps, schema_editor):
    schema_editor.execute(
        "UPDATE viewflow_task SET owner_permission = %s"
        " WHERE owner_permission = %s AND flow_task = %s",
        ["points.handle_redemption", "points.reexamine_appeal", REEXAMINE],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0007_api_idempotency"),
        ("points", "0008_reexamine_appeal_permission"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [migrations.RunPython(to_the_appeal_permission, back)]
