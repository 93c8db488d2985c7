/*
 * cps-harness: the reader driver of the private pcscd. It loads vsmartcard's vpcd driver and passes
 * every call on, except the commands vpcd's protocol cannot carry, which it answers itself.
 *
 * vpcd frames every message as a 2-byte length and a payload, and a 1-byte payload from the reader
 * is a control (00 power off, 01 power on, 02 reset, 04 ATR request). So, in virtualsmartcard 0.8:
 *   - a 1-byte command APDU reaches the card as a control: the card cannot tell them apart, answers
 *     nothing, and SCardTransmit waits forever (pcscd has no transmit timeout);
 *   - an empty command is not sent at all, but vpcd still waits for an answer: it hangs too;
 *   - a command over 65,535 bytes cannot be framed: vpcd refuses it and drops the card's connection,
 *     so the card looks removed to every client.
 * Only the driver knows whether a byte is a command or a control, hence this wrapper: a command of
 * 0 or 1 byte gets 6700 (wrong length, what the card answers for 2 or 3 bytes), an oversized one a
 * communication error (SCARD_E_NOT_TRANSACTED); the card's connection and state are untouched.
 * An answer shorter than a status word (vpcd's "success" when the card vanished mid-command) is a
 * communication error too.
 *
 * Presence: pcscd powers a card only when its polling thread sees the slot go from empty to full.
 * Other threads ask for presence too (SCardConnect, SCardDisconnect... through IFDPowerICC), and
 * when one of them finds the slot empty, pcscd marks the reader empty without its poller knowing.
 * A new card that arrives before the poller's next look (every 400 ms) is then taken for the old
 * one: never powered, never listed (seen: a client's SCardDisconnect(SCARD_UNPOWER_CARD) after its
 * card died, then a card inserted at once). So every removal seen by any thread is reported once
 * to each thread that last saw a card there, before the new card: the poller sees the slot empty,
 * then full, and powers it.
 *
 * pcscd loads this file as the reader's LIBPATH; CPS_VPCD_DRIVER names the real driver.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <ifdhandler.h>

#define DEFAULT_DRIVER "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
#define VPCD_MAX_MESSAGE 0xFFFF
#define SLOTS 16 /* vpcd has 2 per port pair; slots beyond this are passed on unwatched */

enum { UNKNOWN, PRESENT, ABSENT };
static pthread_mutex_t presence_lock = PTHREAD_MUTEX_INITIALIZER;
static int last_answer[SLOTS];          /* what vpcd last said, to any thread */
static unsigned long removals[SLOTS];   /* how often it said "absent" after "present" */
static __thread int seen[SLOTS];         /* what this thread was last told */
static __thread unsigned long seen_removals[SLOTS];
static __thread int owed[SLOTS];         /* "absent" answers still owed to this thread */

static struct {
    RESPONSECODE (*create_channel_by_name)(DWORD, LPSTR);
    RESPONSECODE (*create_channel)(DWORD, DWORD);
    RESPONSECODE (*close_channel)(DWORD);
    RESPONSECODE (*get_capabilities)(DWORD, DWORD, PDWORD, PUCHAR);
    RESPONSECODE (*set_capabilities)(DWORD, DWORD, DWORD, PUCHAR);
    RESPONSECODE (*set_protocol_parameters)(DWORD, DWORD, UCHAR, UCHAR, UCHAR, UCHAR);
    RESPONSECODE (*power_icc)(DWORD, DWORD, PUCHAR, PDWORD);
    RESPONSECODE (*transmit_to_icc)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD, PSCARD_IO_HEADER);
    RESPONSECODE (*control)(DWORD, DWORD, PUCHAR, DWORD, PUCHAR, DWORD, LPDWORD);
    RESPONSECODE (*icc_presence)(DWORD);
} real;
static int loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *symbol(void *handle, const char *name, int *missing)
{
    void *address = dlsym(handle, name);

    if (address == NULL) {
        fprintf(stderr, "cps-harness vpcd guard: %s missing from the vpcd driver\n", name);
        *missing = 1;
    }
    return address;
}

static void load(void)
{
    const char *path = getenv("CPS_VPCD_DRIVER");
    void *handle;
    int missing = 0;

    if (path == NULL || *path == '\0')
        path = DEFAULT_DRIVER;
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "cps-harness vpcd guard: cannot load %s: %s\n", path, dlerror());
        return;
    }
    *(void **)&real.create_channel_by_name = symbol(handle, "IFDHCreateChannelByName", &missing);
    *(void **)&real.create_channel = symbol(handle, "IFDHCreateChannel", &missing);
    *(void **)&real.close_channel = symbol(handle, "IFDHCloseChannel", &missing);
    *(void **)&real.get_capabilities = symbol(handle, "IFDHGetCapabilities", &missing);
    *(void **)&real.set_capabilities = symbol(handle, "IFDHSetCapabilities", &missing);
    *(void **)&real.set_protocol_parameters = symbol(handle, "IFDHSetProtocolParameters", &missing);
    *(void **)&real.power_icc = symbol(handle, "IFDHPowerICC", &missing);
    *(void **)&real.transmit_to_icc = symbol(handle, "IFDHTransmitToICC", &missing);
    *(void **)&real.control = symbol(handle, "IFDHControl", &missing);
    *(void **)&real.icc_presence = symbol(handle, "IFDHICCPresence", &missing);
    loaded = !missing;
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
    return ready() ? real.create_channel_by_name(Lun, DeviceName) : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
    return ready() ? real.create_channel(Lun, Channel) : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
    return ready() ? real.close_channel(Lun) : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
    return ready() ? real.get_capabilities(Lun, Tag, Length, Value) : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
    return ready() ? real.set_capabilities(Lun, Tag, Length, Value) : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags, UCHAR PTS1, UCHAR PTS2,
    UCHAR PTS3)
{
    return ready() ? real.set_protocol_parameters(Lun, Protocol, Flags, PTS1, PTS2, PTS3) : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
    return ready() ? real.power_icc(Lun, Action, Atr, AtrLength) : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer, DWORD TxLength,
    PUCHAR RxBuffer, PDWORD RxLength, PSCARD_IO_HEADER RecvPci)
{
    RESPONSECODE rv;

    if (!ready() || RxLength == NULL)
        return IFD_COMMUNICATION_ERROR;
    if (TxLength > VPCD_MAX_MESSAGE) {
        fprintf(stderr, "cps-harness vpcd guard: a %lu-byte command cannot be framed: not sent\n",
            (unsigned long)TxLength);
        *RxLength = 0;
        return IFD_COMMUNICATION_ERROR;
    }
    if (TxLength < 2) {
        if (*RxLength < 2 || RxBuffer == NULL)
            return IFD_COMMUNICATION_ERROR;
        RxBuffer[0] = 0x67; /* wrong length */
        RxBuffer[1] = 0x00;
        *RxLength = 2;
        if (RecvPci != NULL)
            RecvPci->Protocol = SendPci.Protocol;
        return IFD_SUCCESS;
    }
    rv = real.transmit_to_icc(Lun, SendPci, TxBuffer, TxLength, RxBuffer, RxLength, RecvPci);
    if (rv == IFD_SUCCESS && *RxLength < 2) {
        *RxLength = 0;
        return IFD_COMMUNICATION_ERROR; /* the card's connection closed during the command */
    }
    return rv;
}

RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer, DWORD TxLength, PUCHAR RxBuffer,
    DWORD RxLength, LPDWORD pdwBytesReturned)
{
    if (!ready())
        return IFD_COMMUNICATION_ERROR;
    return real.control(Lun, dwControlCode, TxBuffer, TxLength, RxBuffer, RxLength, pdwBytesReturned);
}

RESPONSECODE IFDHICCPresence(DWORD Lun)
{
    DWORD slot = Lun & 0xffff;
    RESPONSECODE rv;

    if (!ready())
        return IFD_COMMUNICATION_ERROR;
    rv = real.icc_presence(Lun);
    if (slot >= SLOTS || (rv != IFD_ICC_PRESENT && rv != IFD_ICC_NOT_PRESENT))
        return rv;
    pthread_mutex_lock(&presence_lock);
    if (rv == IFD_ICC_NOT_PRESENT) {
        if (last_answer[slot] == PRESENT)
            removals[slot]++;
        last_answer[slot] = ABSENT;
        seen[slot] = ABSENT;
        owed[slot] = 0;
    } else {
        last_answer[slot] = PRESENT;
        /* The card this thread knew left meanwhile: say so first, twice, since the poller may spend
         * the first answer on IFDPowerICC's own check before the status check that counts. */
        if (seen[slot] == PRESENT && seen_removals[slot] != removals[slot])
            owed[slot] = 2;
        if (owed[slot] > 0) {
            owed[slot]--;
            rv = IFD_ICC_NOT_PRESENT;
            seen[slot] = ABSENT;
        } else {
            seen[slot] = PRESENT;
        }
    }
    seen_removals[slot] = removals[slot];
    pthread_mutex_unlock(&presence_lock);
    return rv;
}
