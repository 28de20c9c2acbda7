"""Every step's card as data: what the checklist and the step pane show of the
procedure before it runs, held here so that `runbook run` draws its first
screen without loading the steps' code (issue 12: their modules were about a
tenth of its first paint; they load with the first plan shown, just after).

The steps stay the source (Step.card): tests/test_step_cards.py fails when a
card here differs from its step's own, a title, a word, the order or a number,
and prints the card as it should read here."""

from runbook.model import Phase, StepCard

# steps.procedure(), in order.
UPGRADE: list[StepCard] = [
    StepCard(
        1, "preflight", "Preflight checks", Phase.PREPARE,
        summary=(
            "Looks, and changes nothing: SSH with the trusted key, sudo without a prompt, the live"
            " install and its version, disk for the new release, a new database that is not the "
            "live one, the live stream manager's token and API version, the live controller's "
            "class in the cloud-controller jar, and the Java the new release needs."
        ),
        skippable=False,
        looks_again=True,
    ),
    StepCard(
        2, "new-database", "Reach the new database", Phase.PREPARE,
        summary=(
            "Logs in to the new autoscaling database from the stream manager host, with the live "
            "install's config.dbUser and config.dbPass (the new instance has the same "
            "credentials), and says whether its cluster database exists and is empty, and whether "
            "it allows as many connections as the live one (max_connections). The password reaches"
            " the client on its stdin, as an option file read from that pipe: never on a command "
            "line, never on the host's disk."
        ),
        looks_again=True,
    ),
    StepCard(
        3, "export-config", "Export nodegroups and policies", Phase.PREPARE,
        summary=(
            "Saves every nodegroup with its launch config, scale policy, regions and origins, and "
            "the launch configs and scale policies themselves, from the live API to the host's "
            "state folder on this machine. The new database starts empty; this is what gets "
            "rebuilt."
        ),
        skippable=False,
        looks_again_until_cutover=True,
    ),
    StepCard(
        4, "upload", "Upload distribution and controller", Phase.PREPARE,
        summary=(
            "Copies the new server distribution and the cloud-controller jar from this machine to "
            "the stream manager over SFTP, hashing each as it is sent, while the host hashes each "
            "part as it lands; the two sha256 must agree. A file already there with the same "
            "checksum is not sent again; one an earlier attempt left half-way goes on from where "
            "it stopped."
        ),
    ),
    StepCard(
        5, "unpack", "Unpack beside the live install", Phase.PREPARE,
        summary=(
            "Unzips the new distribution into the install directory, next to the live red5pro "
            "folder, which is not touched."
        ),
    ),
    StepCard(
        6, "cloud-controller", "Place the cloud-controller jar", Phase.PREPARE,
        summary="Copies the cloud-controller jar into the new streammanager webapp's WEB-INF/lib.",
    ),
    StepCard(
        7, "strip-autoscale", "Remove the autoscale plugin", Phase.PREPARE,
        summary=(
            "Deletes conf/autoscale.xml, plugins/red5pro-autoscale-plugin-*.jar and "
            "plugins/red5pro-webrtc-plugin-*.jar from the NEW distribution: Red5 removes them from"
            " a stream manager (they serve nodes)."
        ),
        destructive=True,
    ),
    StepCard(
        8, "carry-over", "Carry over licence and controller", Phase.PREPARE,
        summary=(
            "Copies LICENSE.KEY from the live install and activates, in the new "
            "applicationContext.xml, the same cloud-controller bean the live install uses: a fresh"
            " distribution has no licence and runs the dummy controller. It also compares "
            "conf/red5.properties, jee-container.xml, cluster.xml, the webapps and the "
            "streammanager web.xml's CorsFilter with the live install's and warns of what differs:"
            " those edits are yours to make again, by hand."
        ),
        caution="Without LICENSE.KEY the new server does not start.",
        looks_again_until_cutover=True,
    ),
    StepCard(
        9, "properties", "Port red5-web.properties", Phase.PREPARE,
        summary=(
            "Carries the live stream manager settings into the new release's red5-web.properties "
            "key by key, with config.dbHost pointing at the new database. The new template has "
            "keys the old file never had, so it is merged, never copied."
        ),
        caution="Every key the new release added needs a value someone decided.",
        looks_again_until_cutover=True,
    ),
    StepCard(
        10, "schema", "Create the new database's schema", Phase.PREPARE,
        summary=(
            "Imports the new release's webapps/streammanager/WEB-INF/sql/cluster.sql into the new "
            "database's cluster schema, and proves every table of that file is there. A database "
            "that already has tables is never overwritten: it is accepted when its tables are the "
            "file's, otherwise the step stops and says which differ. The one exception is this "
            "step's own import that did not finish (stopped, cut off, failed at a statement) in "
            "the same database, before the cutover: the file's tables it made, which running the "
            "step again drops (its id typed) before it imports the file whole. Before the cutover,"
            " the release's tables with nodegroups, launch configs or scale policies in them are "
            "refused: an earlier attempt's cutover, which the way back leaves there, or another "
            "stream manager that already uses this database, put them there."
        ),
    ),
    StepCard(
        11, "delete-nodegroups", "Delete the nodegroups", Phase.CUTOVER,
        summary=(
            "Deletes every nodegroup through the live API and waits until they are gone; their "
            "nodes are terminated. They are rebuilt from the snapshot after the upgrade."
        ),
        caution=(
            "Leaving the nodegroups would not keep their nodes: the upgraded stream manager finds "
            "nodes its new database does not know and tears them down itself, probably without a "
            "drain."
        ),
        destructive=True,
        skippable=False,
        the_way_back_word="recreated",
        the_way_back_did=(
            "recreated by the way back as new nodegroups (new names), their origins launched; "
            "edges come back by autoscaling"
        ),
    ),
    StepCard(
        12, "backup-live", "Rename red5pro to bak.red5pro", Phase.CUTOVER,
        summary="Moves the live install aside as bak.red5pro; it is the way back if needed.",
        destructive=True,
        skippable=False,
    ),
    StepCard(
        13, "promote-new", "Rename the new tree to red5pro", Phase.CUTOVER,
        summary="Moves the unpacked red5pro-server-* folder into place as red5pro.",
        destructive=True,
        skippable=False,
    ),
    StepCard(
        14, "stop-service", "Kill the running Red5 Pro", Phase.CUTOVER,
        summary=(
            "Finds the server processes of the old install (it still runs from the renamed "
            "folder): by command line, and every process in the red5pro unit's control group "
            "whatever its command line; kills them with kill -9, as the procedure does."
        ),
        caution="Under jsvc there are two processes; both go.",
        destructive=True,
        skippable=False,
    ),
    StepCard(
        15, "service-unit", "Install the new service unit", Phase.CUTOVER,
        summary=(
            "Installs the red5pro.service the new release ships (the old one stays beside it as "
            "red5pro.service.bak), reloads systemd, and proves the unit starts the Java the "
            "release needs (8 up to 8.x, 11 for 9 to 13). A release that ships no unit keeps the "
            "installed one, which must already name that Java; where its classpath names a "
            "commons-daemon jar the release does not have, it is pointed at the release's."
        ),
        skippable=False,
    ),
    StepCard(
        16, "start-service", "Start the red5pro service", Phase.CUTOVER,
        summary=(
            "Starts the service with systemctl and waits until the Stream Manager API answers from"
            " the new install, speaking the new release's API version."
        ),
        skippable=False,
        looks_again=True,
    ),
    StepCard(
        17, "recreate", "Recreate nodegroups and origins", Phase.CUTOVER,
        summary=(
            "Rebuilds, through the new API, the launch configs, scale policies and nodegroups "
            "saved by export-config, launches as many origins per nodegroup as before, and waits "
            "until they are in service."
        ),
        skippable=False,
        the_way_back_undoes=False,
        the_way_back_could_not="its nodes were left running; check the cloud's console",
    ),
]

# steps.way_back(), in order, numbered on from the upgrade's.
WAY_BACK: list[StepCard] = [
    StepCard(
        18, "rollback-nodegroups", "Delete recreate's nodegroups", Phase.ROLLBACK,
        summary=(
            "While the new release still serves, deletes through its API the nodegroups this run's"
            " recreate made and waits until they are gone: their nodes are terminated by the "
            "stream manager that launched them, not torn down by the old one once it runs. Any "
            "other nodegroup it lists is kept."
        ),
        caution=(
            "Left, they would not stay: once the old stream manager runs, it finds nodes its "
            "database does not know and tears them down, probably without a drain."
        ),
        destructive=True,
        skippable=False,
        looks_again=True,
    ),
    StepCard(
        19, "rollback-stop-new", "Stop the new release", Phase.ROLLBACK,
        summary=(
            "Stops the service and kills what still runs from the new install, so the old release "
            "can have the port and the name back."
        ),
        skippable=False,
        looks_again=True,
    ),
    StepCard(
        20, "rollback-set-aside", "Set the new tree aside", Phase.ROLLBACK,
        summary=(
            "Moves the new release out of red5pro, as red5pro.failed-TIMESTAMP, for a look later."
        ),
        destructive=True,
        skippable=False,
    ),
    StepCard(
        21, "rollback-restore", "Put bak.red5pro back as red5pro", Phase.ROLLBACK,
        summary="Moves the old install back into place, unchanged since backup-live moved it.",
        destructive=True,
        skippable=False,
    ),
    StepCard(
        22, "rollback-unit", "Put the old service unit back", Phase.ROLLBACK,
        summary=(
            "Where service-unit replaced red5pro.service, puts the old one (kept as "
            "red5pro.service.bak) back and reloads systemd."
        ),
        skippable=False,
    ),
    StepCard(
        23, "rollback-start", "Start the old release", Phase.ROLLBACK,
        summary=(
            "Starts the service, proves the API token is the old install's "
            "rest.administratorToken, and waits until the Stream Manager API answers from the old "
            "install, speaking the old release's API version, on the old database."
        ),
        skippable=False,
        looks_again=True,
    ),
    StepCard(
        24, "rollback-recreate", "Recreate nodegroups on the old database", Phase.ROLLBACK,
        summary=(
            "Rebuilds, through the old API, the launch configs, scale policies, nodegroups and "
            "origins of the snapshot taken before the cutover, as they were, and waits until they "
            "are in service."
        ),
        skippable=False,
        the_way_back_undoes=False,
        the_way_back_could_not="its nodes were left running; check the cloud's console",
    ),
]
