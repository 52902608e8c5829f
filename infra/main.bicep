// Azure resources of the ECommerce system on Plexus: AKS (autoscaling node pool), PostgreSQL
// Flexible Server 16 (zone-redundant HA, backups), ACR, Log Analytics, Application Insights and
// Key Vault. RabbitMQ runs in the cluster, so there is no Service Bus.
// No secret is written in this file: passwords come in as @secure() parameters and go into Key
// Vault. Bicep cannot be compiled on the project's machine; tests/deploy checks it structurally.

targetScope = 'resourceGroup'

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Environment name, part of every resource name.')
@allowed([
  'production'
  'staging'
])
param environment string = 'production'

@description('Kubernetes version of the AKS cluster.')
param kubernetesVersion string = '1.30'

@description('VM size of the AKS node pools.')
param nodeVmSize string = 'Standard_D4s_v5'

@description('Autoscaling bounds of the AKS user node pool.')
@minValue(1)
param nodeMinCount int = 3
@maxValue(100)
param nodeMaxCount int = 10

@description('Administrator login of the PostgreSQL server.')
param postgresAdminLogin string = 'plexusadmin'

@description('Administrator password of the PostgreSQL server (stored in Key Vault as postgres-admin-password).')
@secure()
@minLength(16)
param postgresAdminPassword string

@description('Password of the RabbitMQ user the hosts log in with (stored in Key Vault as rabbitmq-password).')
@secure()
@minLength(16)
param rabbitmqPassword string

@description('Days of PostgreSQL point-in-time backups.')
@minValue(7)
@maxValue(35)
param postgresBackupRetentionDays int = 14

@description('Name of the container registry (globally unique, alphanumeric).')
param acrName string = 'plexusacr'

var suffix = 'ecommerce-${environment}'
var tags = {
  application: 'ecommerce'
  platform: 'plexus'
  environment: environment
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: 'log-${suffix}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
  }
}

resource acr 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: acrName
  location: location
  tags: tags
  sku: {
    name: 'Premium'
  }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
    zoneRedundancy: 'Enabled'
  }
}

resource aks 'Microsoft.ContainerService/managedClusters@2024-02-01' = {
  name: 'aks-${suffix}'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    kubernetesVersion: kubernetesVersion
    dnsPrefix: 'ecommerce-${environment}'
    enableRBAC: true
    disableLocalAccounts: false
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        vmSize: nodeVmSize
        osType: 'Linux'
        osDiskSizeGB: 128
        count: 2
        enableAutoScaling: true
        minCount: 2
        maxCount: 3
        availabilityZones: [
          '1'
          '2'
          '3'
        ]
        nodeTaints: [
          'CriticalAddonsOnly=true:NoSchedule'
        ]
      }
      {
        name: 'apps'
        mode: 'User'
        vmSize: nodeVmSize
        osType: 'Linux'
        osDiskSizeGB: 128
        count: nodeMinCount
        enableAutoScaling: true
        minCount: nodeMinCount
        maxCount: nodeMaxCount
        availabilityZones: [
          '1'
          '2'
          '3'
        ]
      }
    ]
    networkProfile: {
      networkPlugin: 'azure'
      // The overlays' NetworkPolicies need an enforcing policy engine.
      networkPolicy: 'azure'
      loadBalancerSku: 'standard'
      serviceCidr: '10.0.0.0/16'
      dnsServiceIP: '10.0.0.10'
    }
    addonProfiles: {
      azurepolicy: {
        enabled: true
      }
      omsagent: {
        enabled: true
        config: {
          logAnalyticsWorkspaceResourceID: logAnalytics.id
        }
      }
      azureKeyvaultSecretsProvider: {
        enabled: true
        config: {
          enableSecretRotation: 'true'
        }
      }
    }
  }
}

// The kubelet pulls the plexus-host image from ACR with its managed identity (no registry password).
var acrPullRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
resource aksAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(acr.id, aks.id, acrPullRoleId)
  scope: acr
  properties: {
    roleDefinitionId: acrPullRoleId
    principalId: aks.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: 'psql-${suffix}'
  location: location
  tags: tags
  sku: {
    name: 'Standard_D4ds_v5'
    tier: 'GeneralPurpose'
  }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: {
      storageSizeGB: 128
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: postgresBackupRetentionDays
      geoRedundantBackup: 'Enabled'
    }
    highAvailability: {
      mode: 'ZoneRedundant'
    }
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Enabled'
    }
  }
}

// One database; every Deployment gets its own schema in it (config/<deployment>.json store.schema).
resource plexusDb 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: 'plexus'
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// TLS is required by default; only Azure-hosted clients (the AKS egress) may connect.
resource postgresAzureAccess 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-${take(uniqueString(resourceGroup().id, suffix), 12)}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource postgresPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'postgres-admin-password'
  properties: {
    value: postgresAdminPassword
  }
}

resource rabbitmqPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'rabbitmq-password'
  properties: {
    value: rabbitmqPassword
  }
}

resource appInsightsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'appinsights-connection-string'
  properties: {
    value: appInsights.properties.ConnectionString
  }
}

// The cluster's Key Vault CSI driver identity may read the secrets.
var kvSecretsUserRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
resource aksKeyVaultReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, aks.id, kvSecretsUserRoleId)
  scope: keyVault
  properties: {
    roleDefinitionId: kvSecretsUserRoleId
    principalId: aks.properties.addonProfiles.azureKeyvaultSecretsProvider.identity.objectId
    principalType: 'ServicePrincipal'
  }
}

output aksName string = aks.name
output acrLoginServer string = acr.properties.loginServer
output postgresHost string = postgres.properties.fullyQualifiedDomainName
output keyVaultName string = keyVault.name
output appInsightsName string = appInsights.name
output logAnalyticsWorkspaceId string = logAnalytics.id
